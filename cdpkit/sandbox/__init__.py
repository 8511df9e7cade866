"""Local fake servers of the destination APIs (cdpkit sandbox)."""
