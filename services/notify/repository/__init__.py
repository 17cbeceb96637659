"""All SQL of the notify service, by area: ``directory`` (staff, departments, preferences),
``projections`` (rollouts, issues, training), ``ladders``, ``inbox``, ``deliveries`` and
``cases`` (policies included)."""
