"""Questions about the server: VERSION TIME ADMIN INFO LINKS STATS."""
