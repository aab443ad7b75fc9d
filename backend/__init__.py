"""mmcurate: the service and the shared core of the application."""
