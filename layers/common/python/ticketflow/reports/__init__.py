"""KPI reports: what each ticket change adds to the daily counters (``counting``), and the
figures supervisors read from them (``figures``, ``queries``), as JSON, CSV and a dashboard."""
