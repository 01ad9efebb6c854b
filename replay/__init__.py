"""CAN log tools: record, decode, plot, replay onto a bus, and re-simulate the master."""
