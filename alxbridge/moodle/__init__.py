"""What the bridge reads from (and sets up in) Moodle itself: site config, plugin settings, tokens, passwords."""
