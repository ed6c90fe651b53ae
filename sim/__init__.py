"""seisim: agent-based Monte Carlo simulation for judging regional strategic-emerging-industry plans."""

__version__ = "0.1.0"
