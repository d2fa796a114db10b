"""The background jobs: running one at a time across workers and hosts, scheduling, locks, retention."""
