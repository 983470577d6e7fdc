"""Bring your own vision-language model: local ONNX image and text encoders with CLIP's interface.

Without this section nothing changes: no encoder is loaded and search ranks by attributes alone.
The files are checked when the cameras or the server start (``scenewatch.vision.clip_encoder``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from scenewatch.config.base import Section

VECTOR_KEY = "_embedding"  # a track's description carries its vector here until it is stored apart
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # OpenAI CLIP's RGB normalisation
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class EmbeddingsConfig(Section):
    image_model: Path = Field(
        description="ONNX image encoder: input [N,3,H,W] float RGB (H, W read from the model), output [N,D]."
    )
    text_model: Path = Field(description="ONNX text encoder: input token ids [N,L] int64, output [N,D].")
    tokenizer: Path = Field(
        description="The text encoder's tokenizer.json (Hugging Face `tokenizers` format, e.g. a CLIP BPE)."
    )
    image_size: int = Field(
        224, ge=16, le=1024, description="Input side for an image encoder whose H and W are not fixed."
    )
    context_length: int = Field(
        77, ge=4, le=1024, description="Token ids per text for a text encoder whose L is not fixed."
    )
    mean: tuple[float, float, float] = Field(CLIP_MEAN, description="Per-channel RGB mean (pixels in 0..1).")
    std: tuple[float, float, float] = Field(CLIP_STD, description="Per-channel RGB standard deviation.")
    weight: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="Share of a result's score from image-text similarity; the rest from its attributes.",
    )
    similarity_range: tuple[float, float] = Field(
        (0.15, 0.35),
        description="Cosine similarities mapped to 0..1 before fusing: at or below the first is 0, "
        "at or above the second is 1 (CLIP ViT-B models give matching text and image about 0.3).",
    )

    @model_validator(mode="after")
    def _range_ordered(self) -> EmbeddingsConfig:
        low, high = self.similarity_range
        if not -1.0 <= low < high <= 1.0:
            raise ValueError("similarity_range must be two cosines [low, high] with -1 <= low < high <= 1")
        if min(self.std) <= 0:
            raise ValueError("std must be positive")
        return self
