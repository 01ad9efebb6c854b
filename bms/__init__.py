"""Shared runtime of the BMS processes: settings, the CAN port, the `bms` command line."""
