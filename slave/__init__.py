"""The module process: AFE backends, the measurement and balancing core, its async shell."""
