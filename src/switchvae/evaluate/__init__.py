"""switchvae.evaluate."""
