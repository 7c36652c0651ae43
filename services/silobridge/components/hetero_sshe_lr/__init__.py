"""``hetero_sshe_lr``: vertical logistic regression of a guest and one host, with no arbiter.

Only the guest holds a Paillier key, and no plaintext that comes from a decryption ever leaves it.
The host's weights are additive shares (one at the host, one at the guest); Paillier makes the
shares of the host's gradient (the host keeps a random share, the guest decrypts the other) and
the guest's exact gradient (the host masks the encrypted residual and returns the mask's
encrypted effect). The host only ever receives ciphertexts under the guest's key, so whatever it
sends it learns nothing. See docs/algorithms.md and docs/threat-model.md.
"""

from __future__ import annotations

from silobridge.components.hetero_sshe_lr import guest, host
from silobridge.components.hetero_sshe_lr.common import SSHELRParams, SSHEPredictParams
from silobridge.components.pipeline import with_pipeline
from silobridge.components.registry import ComponentDef, register
from silobridge.ml.protocol import guarded

COMPONENT = register(
    ComponentDef(
        name="hetero_sshe_lr",
        roles={"guest": guarded(guest.train), "host": guarded(host.train)},
        params=SSHELRParams,
        outputs=("model", "predictions"),
        description="Vertical logistic regression without an arbiter: Paillier-made shares, guest-held key.",
    )
)

PREDICT = register(
    ComponentDef(
        name="hetero_sshe_lr_predict",
        roles={"guest": guarded(with_pipeline(guest.predict)), "host": guarded(with_pipeline(host.predict))},
        params=SSHEPredictParams,
        outputs=("predictions",),
        description="Score aligned rows with hetero_sshe_lr models (after the party's scale and selection).",
    )
)

__all__ = ["COMPONENT", "PREDICT", "SSHELRParams"]
