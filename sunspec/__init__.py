"""`bms sunspec`: the pack as SunSpec Modbus TCP (models 1, 802, 803, 804) (docs/sunspec.md)."""
