"""What the tests and the benchmarks stand up: a broker on a free loopback port (Mosquitto
with the project's configuration, or the embedded one), a virtual pack online, deadlines
derived from measured start-ups, and waits on conditions. Imports nothing of `tests`."""
