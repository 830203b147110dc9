"""Ready-made architectures, each a :class:`nnlab.nn.Module` with PyTorch's submodule names
(so a ``state_dict`` written by the same architecture in torch loads):

- :class:`LeNet5` (LeCun et al. 1998), the first convolutional network;
- :class:`VGG` (Simonyan and Zisserman 2015), uniform 3×3 stacks;
- :class:`ResNet` with :class:`BasicBlock` / :class:`BottleneckBlock` (He et al. 2016),
  and their plain twins (``plain=True``);
- :class:`Highway` and :class:`HighwayNetwork` (Srivastava et al. 2015), gated skips;
- :class:`UNet` (Ronneberger et al. 2015), segmentation with skip concatenation;
- :class:`CNN1d` for sequences and signals, :class:`CNN3d` for volumes;
- sequence classifiers: :class:`BagOfEmbeddings`, :class:`RecurrentClassifier` (RNN,
  LSTM, GRU over tokens or signals) and :class:`TransformerClassifier`.

The model types a run config can name (``model.type``) are registered beside their
classes with :func:`register_model` (see :mod:`nnlab.models.registry`).
"""

from nnlab.models.cnn1d import CNN1d
from nnlab.models.cnn3d import CNN3d
from nnlab.models.highway import Highway, HighwayNetwork
from nnlab.models.lenet import LeNet5
from nnlab.models.resnet import (
    BasicBlock,
    BottleneckBlock,
    ResNet,
    resnet,
    resnet18,
    resnet20,
    resnet34,
    resnet50,
)
from nnlab.models.text_classifiers import (
    BagOfEmbeddings,
    RecurrentClassifier,
    TransformerClassifier,
)
from nnlab.models.unet import DoubleConv, UNet
from nnlab.models.vgg import VGG, VGG_CONFIGS, vgg_config

__all__ = [
    "BasicBlock", "BottleneckBlock", "CNN1d", "CNN3d", "DoubleConv", "Highway",
    "HighwayNetwork", "LeNet5", "ResNet", "UNet", "VGG", "VGG_CONFIGS", "resnet", "resnet18",
    "resnet20", "resnet34", "resnet50", "vgg_config",
]  # fmt: skip

__all__ += ["BagOfEmbeddings", "RecurrentClassifier", "TransformerClassifier"]

# Sequence generation and forecasting: Seq2Seq with attention, character LMs, an LSTM
# forecaster.
from nnlab.models.forecasting import LSTMForecaster  # noqa: E402
from nnlab.models.language_model import CharRNNLM, CharTransformerLM  # noqa: E402
from nnlab.models.seq2seq import Seq2Seq, exact_match, sequence_cross_entropy  # noqa: E402

__all__ += [
    "CharRNNLM", "CharTransformerLM", "LSTMForecaster", "Seq2Seq", "exact_match",
    "sequence_cross_entropy",
]  # fmt: skip

# Pretrained encoders: BERT with Hugging Face's names, all-MiniLM-L6-v2's weights.
from nnlab.models.bert import BertConfig, BertModel, load_minilm  # noqa: E402

__all__ += ["BertConfig", "BertModel", "load_minilm"]

# Transfer learning: freeze / unfreeze, new heads, parameter groups. Their home is
# nnlab.nn.utils.transfer; re-exported here, where they were first importable from.
from nnlab.nn.utils.transfer import (  # noqa: E402
    freeze,
    head_name,
    param_groups,
    replace_head,
    unfreeze,
)

__all__ += ["freeze", "head_name", "param_groups", "replace_head", "unfreeze"]

from nnlab.models.pretrained_text_classifier import SentenceClassifier  # noqa: E402

__all__ += ["SentenceClassifier"]

# Generative and representation learning: autoencoders, the VAE, GANs, diffusion, ensembles.
from nnlab.models.autoencoder import Autoencoder  # noqa: E402
from nnlab.models.diffusion import (  # noqa: E402
    DDPMScheduler,
    DDPMSchedulerOutput,
    DenoisingMLP,
    cosine_beta_schedule,
    ddpm_sample,
    diffusion_loss,
    get_timestep_embedding,
    linear_beta_schedule,
)
from nnlab.models.ensemble import (  # noqa: E402
    COMBINE_RULES,
    Ensemble,
    SnapshotCollector,
    bootstrap_indices,
    combine_predictions,
)
from nnlab.models.gan import (  # noqa: E402
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    discriminator_loss,
    gradient_penalty,
    minimax_generator_loss,
    non_saturating_generator_loss,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)
from nnlab.models.vae import (  # noqa: E402
    VAE,
    ELBOTerms,
    elbo_loss,
    gaussian_kl,
    kl_warmup,
    reparameterize,
)

__all__ += ["Autoencoder", "VAE", "ELBOTerms", "elbo_loss", "gaussian_kl", "kl_warmup"]
__all__ += ["reparameterize", "COMBINE_RULES", "Ensemble", "SnapshotCollector"]
__all__ += ["bootstrap_indices", "combine_predictions", "DDPMScheduler", "DDPMSchedulerOutput"]
__all__ += ["DenoisingMLP", "cosine_beta_schedule", "ddpm_sample", "diffusion_loss"]
__all__ += ["get_timestep_embedding", "linear_beta_schedule"]
__all__ += ["DCGANDiscriminator", "DCGANGenerator", "MLPDiscriminator", "MLPGenerator"]
__all__ += ["discriminator_loss", "gradient_penalty", "minimax_generator_loss"]
__all__ += ["non_saturating_generator_loss", "wasserstein_critic_loss"]
__all__ += ["wasserstein_generator_loss"]

# The model types of run configs: each module above registers its own; the layers of
# nnlab.nn that a config trains whole (mlp, linear, perceptron) are registered here.
from nnlab.models import feedforward  # noqa: E402, F401
from nnlab.models.registry import ModelInputs, model_names, register_model  # noqa: E402

__all__ += ["ModelInputs", "model_names", "register_model"]
