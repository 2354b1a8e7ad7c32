"""Regularizers for custom losses: a pipeline composing a base loss with weighted penalties.

``loss_total = base_loss + Σ weightᵢ · regularizerᵢ``; each part returns its gradient with
respect to the logprobs (analytic for the eight built-in adapters), so a pipeline plugs into
``TrainingClient.forward_backward_custom(data, pipeline.loss_fn(), backend="numpy")``.
numpy only; torch is not needed.
"""

from tinkex_domain.regularizers.base import Regularizer, Target, as_array, pack
from tinkex_domain.regularizers.consistency import Consistency
from tinkex_domain.regularizers.divergence import Entropy, KLDivergence
from tinkex_domain.regularizers.events import EVENTS, logging_observer
from tinkex_domain.regularizers.gradient_penalty import GradientPenalty
from tinkex_domain.regularizers.gradients import norm as grad_norm
from tinkex_domain.regularizers.gradients import numeric_grad
from tinkex_domain.regularizers.norms import L1, L2, ElasticNet
from tinkex_domain.regularizers.orthogonality import Orthogonality
from tinkex_domain.regularizers.pipeline import Pipeline, compute, cross_entropy_loss
from tinkex_domain.regularizers.types import (
    BaseLossOutput,
    CustomLossOutput,
    RegularizerError,
    RegularizerOutput,
    RegularizerResult,
    RegularizerSpec,
)

#: The eight built-in adapters by their regularizer name.
ADAPTERS: dict[str, type[Regularizer]] = {
    cls.name: cls
    for cls in (L1, L2, ElasticNet, Entropy, KLDivergence, Consistency, Orthogonality, GradientPenalty)
}

__all__ = [
    "ADAPTERS",
    "EVENTS",
    "L1",
    "L2",
    "BaseLossOutput",
    "Consistency",
    "CustomLossOutput",
    "ElasticNet",
    "Entropy",
    "GradientPenalty",
    "KLDivergence",
    "Orthogonality",
    "Pipeline",
    "Regularizer",
    "RegularizerError",
    "RegularizerOutput",
    "RegularizerResult",
    "RegularizerSpec",
    "Target",
    "as_array",
    "compute",
    "cross_entropy_loss",
    "grad_norm",
    "logging_observer",
    "numeric_grad",
    "pack",
]
