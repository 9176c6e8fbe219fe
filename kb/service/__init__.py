"""Parts of the HTTP service (kb/app.py wires them): index holder, jobs, limits, feedback store,
hand-off webhook, metrics, request models."""
