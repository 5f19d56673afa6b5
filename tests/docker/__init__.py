"""Checks of docker/ by parsing: the compose file, its .env.example and the Dockerfile."""
