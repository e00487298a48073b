"""The packaged efficientnet_lite0 weights, mapped onto timm's model, classify real photos."""
import numpy as np
import pytest
import torch

from indexer.backbone import Backbone, create_model, fold_batch_norms, map_state_dict_in_order
from indexer.weights import packaged_weights_path
from indexer.decode import fit_size, letterbox
from indexer.errors import VidatlasError
from indexer.samples import photo
from indexer.settings import BackboneSettings

CATS = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat (ImageNet-1k)


@pytest.fixture(scope="module")
def backbone():
    return Backbone(BackboneSettings(batch_size=4))


def _thumb(img, w=224, h=126):
    import av
    fw, fh = fit_size(img.shape[1], img.shape[0], w, h)
    small = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(width=fw, height=fh, format="rgb24",
                                                                      interpolation="AREA").to_ndarray()
    return letterbox(small, w, h)


def test_packaged_weights_classify_the_cat(backbone):
    probs = backbone.classify(_thumb(photo("chelsea"))[None])[0]
    assert int(probs.argmax()) in CATS
    assert probs[list(CATS)].sum() > 0.8


def test_packaged_weights_classify_the_coffee(backbone):
    probs = backbone.classify(_thumb(photo("coffee"))[None])[0]
    assert int(probs.argmax()) in (967, 968)  # espresso, cup
    assert probs[[967, 968]].sum() > 0.7


def test_features_are_batched_consistently(backbone):
    thumbs = np.stack([_thumb(photo(n)) for n in ("chelsea", "coffee", "rocket", "astronaut", "coins")])
    together = backbone.features(thumbs)  # batches of 4 + 1
    alone = np.concatenate([backbone.features(t[None]) for t in thumbs])
    assert together.shape == (5, 1280)
    np.testing.assert_allclose(together, alone, rtol=1e-3, atol=1e-3)
    cos = together @ together.T / np.outer(np.linalg.norm(together, axis=1), np.linalg.norm(together, axis=1))
    assert cos[0, 1:].max() < 0.95  # different photos, different features


def test_other_timm_models_load_a_local_weights_file(tmp_path):
    import timm
    model = timm.create_model("resnet18", pretrained=False, num_classes=10)
    torch.save(model.state_dict(), tmp_path / "r18.pth")
    with pytest.raises(VidatlasError, match="does not fit"):
        create_model("resnet18", str(tmp_path / "r18.pth"))  # 10 classes vs 1000
    model = timm.create_model("resnet18", pretrained=False)
    torch.save({"state_dict": model.state_dict()}, tmp_path / "ok.pth")
    loaded, digest = create_model("resnet18", str(tmp_path / "ok.pth"))
    assert len(digest) == 64
    b = Backbone(BackboneSettings(name="resnet18", weights=str(tmp_path / "ok.pth")))
    assert b.features(np.zeros((2, 64, 96, 3), np.uint8)).shape == (2, 512)


def test_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(VidatlasError, match="not found"):
        create_model("resnet18", str(tmp_path / "nope.pth"))
    with pytest.raises(VidatlasError, match="unknown timm model"):
        create_model("no_such_model_xyz")
    with pytest.raises(VidatlasError, match="--weights FILE") as err:  # never a download
        create_model("resnet18")
    assert err.value.code.name == "FAILED_PRECONDITION"


def test_in_order_mapping_checks_shapes():
    src = {"a": torch.zeros(2, 3), "b": torch.zeros(4)}
    assert list(map_state_dict_in_order(src, {"x": torch.ones(2, 3), "y": torch.ones(4)})) == ["x", "y"]
    with pytest.raises(VidatlasError):
        map_state_dict_in_order(src, {"x": torch.ones(3, 2), "y": torch.ones(4)})
    assert packaged_weights_path("efficientnet_lite0").is_file()


def test_batch_norms_are_folded_into_their_convolutions(backbone):
    """The served model has no batch norm left, and gives the unfolded model's features and classes."""
    folded = [m for m in backbone.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert not folded
    thumbs = np.stack([_thumb(photo(n)) for n in ("chelsea", "coffee", "rocket")])
    x = backbone._prepare(thumbs)
    with torch.inference_mode():
        plain = backbone.classifier_model.forward_head(backbone.classifier_model.forward_features(x), pre_logits=True)
        served = backbone.model.forward_head(backbone.model.forward_features(x), pre_logits=True)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in backbone.classifier_model.modules())
    np.testing.assert_allclose(served.numpy(), plain.numpy(), rtol=1e-3, atol=1e-4)


def test_a_convolution_read_twice_is_not_folded():
    """Folding the norm into a convolution whose output something else reads too would change
    that reader's input: the probe shows it, and the model is kept as it is; read once, it folds."""
    class Twice(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4)

        def forward(self, x):
            y = self.conv(x)
            return self.bn(y) + y

    twice = Twice().eval()
    twice.bn.running_mean.uniform_(-1, 1)
    twice.bn.running_var.uniform_(0.5, 2)
    assert fold_batch_norms(twice) is twice
    once = torch.nn.Sequential(twice.conv, twice.bn).eval()
    folded = fold_batch_norms(once)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    x = torch.randn(1, 3, 16, 16)
    with torch.inference_mode():
        torch.testing.assert_close(folded(x), once(x), rtol=1e-4, atol=1e-5)
