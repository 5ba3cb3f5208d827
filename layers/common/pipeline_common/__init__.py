"""Code shared by every function of the pipeline, shipped once as the CommonLayer."""
