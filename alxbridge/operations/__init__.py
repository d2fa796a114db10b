"""Running the bridge in production: health checks, request logging, start-up checks, operator errors."""
