"""switchvae.model."""
