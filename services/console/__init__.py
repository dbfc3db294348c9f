"""The console: web pages for supervisors and auditors over the intake, recorder and auditor APIs."""
