"""Service settings: one typed object, every field overridable as ``VIDATLAS_SERVICE_<FIELD>``."""
from __future__ import annotations

from dataclasses import dataclass

from indexer.settings import with_env


@dataclass(frozen=True)
class ServiceSettings:
    bundle: str = "./atlas"
    """Atlas directory (follows CURRENT) or one version directory."""
    host: str = "[::]"
    port: int = 50051
    redis_url: str = ""
    """Empty: an in-process LRU cache."""
    cache_ttl_s: float = 3600.0
    redis_timeout_s: float = 0.05
    redis_backoff_s: float = 1.0
    """After a Redis error, answers skip Redis (computed, not cached there) for this long."""
    local_cache_entries: int = 4096
    """Size of the in-process LRU used without a Redis URL."""
    page_size: int = 100
    max_page_size: int = 1000
    """ListVideos: videos per page when the request names none, and the most it may ask for."""
    reload_interval_s: float = 2.0
    """How often CURRENT is checked for a new version; 0 disables hot reload."""
    workers: int = 8
    max_clip_bytes: int = 64 << 20
    max_clip_seconds: float = 600.0
    clip_sampling_factor: int = 4
    """FindSimilar samples an uploaded clip this many times faster than the bundle's frames (copies
    at any phase of the bundle's sampling meet a near-identical frame)."""
    clip_pixel_frames: int = 2048
    """FindSimilar takes pixel signatures of an uploaded clip's every frame, of at most this many
    (a longer clip is sampled more sparsely)."""
    labels_path: str = ""
    """Where labels added through the API are kept; empty: <atlas>/added-labels.jsonl."""
    backbone_weights: str = ""
    """Weights for embedding uploaded clips when the bundle's backbone is not the packaged one."""
    metrics_port: int = 0
    """Prometheus /metrics on this HTTP port; 0 turns it off."""
    reflection: bool = False
    """gRPC server reflection (for grpcurl and friends)."""
    tls_cert: str = ""
    tls_key: str = ""
    """PEM files: serve TLS on the gRPC port when both are set."""
    tls_client_ca: str = ""
    """PEM CA bundle: require client certificates signed by it (mTLS)."""
    auth_token_file: str = ""
    """A file holding a bearer token every call but health checks must present."""
    drain_s: float = 5.0
    """On SIGTERM: report NOT_SERVING, keep serving this long, then stop with a grace period."""
    grace_s: float = 20.0
    verify_inline_mb: int = 256
    """Bundle files up to this size are checksummed before the bundle serves; larger ones (the
    features, the inverted lists) after: a first load serves while they are checked and drops
    the bundle if one fails, a hot swap keeps the old bundle until they pass."""
    precompute_similar: bool = True
    """Compute every indexed video's most similar videos in the background after a bundle loads
    (kept in <atlas>/.neighbours for the next start): FindSimilar for a whole indexed video then
    becomes a lookup."""


def service_settings_from_env(base: ServiceSettings | None = None, environ=None) -> ServiceSettings:
    """Apply ``VIDATLAS_SERVICE_<FIELD>`` overrides from the environment."""
    return with_env(base or ServiceSettings(), "VIDATLAS_SERVICE", environ)
