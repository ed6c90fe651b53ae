"""Regional plans as data: loading, validation and the plan audit.

>>> import sim.plans
>>> plan = sim.plans.load("fuling")
>>> report = sim.plans.audit(plan)
"""

from sim.plans.loader import available_regions, load, load_all_versions, read_plan_file
from sim.plans.schema import INDICATORS, Figure, Fund, Industry, Park, Plan

__all__ = ["INDICATORS", "Figure", "Fund", "Industry", "Park", "Plan", "available_regions",
           "load", "load_all_versions", "read_plan_file", "audit"]


def audit(plan, others=None):
    """Audit a plan's internal consistency; see :func:`sim.plans.audit.audit_plan`."""
    from sim.plans.audit import audit_plan

    return audit_plan(plan, others)
