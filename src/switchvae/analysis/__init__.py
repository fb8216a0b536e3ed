"""switchvae.analysis."""
