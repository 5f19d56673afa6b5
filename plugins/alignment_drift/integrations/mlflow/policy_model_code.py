"""The served policy model, as MLflow's "models from code" builds it: not a module to import.

``register_policy_model`` logs this file as the model's code; MLflow runs it
when the model is logged and when it is loaded (``mlflow models serve``,
``mlflow.pyfunc.load_model``), so the wrapper is built from code, never unpickled.
"""

from mlflow.models import set_model

from alignment_drift.integrations.mlflow.policy_model import PolicyModel

set_model(PolicyModel())
