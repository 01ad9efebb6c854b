"""State estimation of the master: SOC per cell (EKF), energy, health, power limits."""
