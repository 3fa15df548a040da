"""The learner's view: what the encoder's two heads (z_mean, z_log_var) say about an image, drawn."""
