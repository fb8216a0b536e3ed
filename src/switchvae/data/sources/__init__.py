"""switchvae.data.sources."""
