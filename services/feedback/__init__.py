"""The feedback service: staff and survey tools give feedback; IT support answers it."""
