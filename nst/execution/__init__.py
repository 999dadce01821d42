"""Where and how runs execute: job-process settings, memory estimates, batching, the runner."""
