"""Regional plans as data: loading, validation and the plan audit.

>>> import sim.plans
>>> plan = sim.plans.load("fuling")
>>> report = sim.plans.audit(plan)
"""

# The submodule sim.plans.audit is imported here, before the function ``audit`` below is defined:
# importing a submodule for the first time binds its name on the package, which would otherwise
# replace the function with the module the first time anyone imported sim.plans.audit.
from sim.plans.audit import AuditReport, Finding, audit_plan
from sim.plans.loader import available_regions, load, load_all_versions, read_plan_file
from sim.plans.schema import INDICATORS, Figure, Fund, Industry, Park, Plan

__all__ = ["INDICATORS", "AuditReport", "Figure", "Finding", "Fund", "Industry", "Park", "Plan",
           "available_regions", "load", "load_all_versions", "read_plan_file", "audit",
           "audit_plan"]


def audit(plan, others=None):
    """Audit a plan's internal consistency; see :func:`sim.plans.audit.audit_plan`."""
    return audit_plan(plan, others)
