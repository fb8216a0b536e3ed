"""switchvae.train."""
