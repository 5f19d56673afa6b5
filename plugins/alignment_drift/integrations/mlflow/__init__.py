"""MLflow as the system of record: check runs, the registry, references and baselines."""
