"""Analog front ends behind one port (`base.Afe`), found by name in `registry.AFE_BACKENDS`."""
