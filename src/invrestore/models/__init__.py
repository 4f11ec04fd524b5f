"""Model families and the registry (:func:`create_model`, :func:`list_models`)."""

from invrestore.models.registry import MODELS, create_model, list_models, register_model

__all__ = ["MODELS", "create_model", "list_models", "register_model"]
