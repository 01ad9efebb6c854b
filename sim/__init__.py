"""The world around the BMS: cell physics, current sensor, virtual-pack launcher, live view."""
