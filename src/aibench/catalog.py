"""The seventeen AIBench Training component benchmarks, as the paper (Table 3) and SPEC.md describe them.

This is metadata only; an entry becomes runnable when a benchmark class registers for its id
(see `aibench.registry.register`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchmarkInfo:
    id: str
    slug: str
    task: str
    model: str
    dataset: str
    metric: str
    paper_target: str
    convergent_quality: str
    reference_settings: str


CATALOG: tuple[BenchmarkInfo, ...] = (
    BenchmarkInfo(
        "DC-AI-C1",
        "image_classification",
        "image classification",
        "ResNet-50",
        "ImageNet (ILSVRC-2012)",
        "top-1 accuracy",
        "74.9%",
        "73.7%",
        "batch 256, SGD lr 0.1 (/10 every 30 epochs), momentum 0.9, wd 1e-4, 90 epochs",
    ),
    BenchmarkInfo(
        "DC-AI-C2",
        "image_generation",
        "image generation",
        "WGAN (generator and critic)",
        "LSUN bedrooms 64x64",
        "estimated Earth-Mover distance",
        "EM distance 0.5 +/- 0.005",
        "-",
        "batch 64, RMSprop lr 5e-5, 5 critic steps per generator step, clip +/-0.01",
    ),
    BenchmarkInfo(
        "DC-AI-C3",
        "text_to_text",
        "text-to-text translation",
        "Transformer",
        "WMT'14 English-German",
        "token accuracy",
        "55%",
        "55%",
        "batch 256",
    ),
    BenchmarkInfo(
        "DC-AI-C4",
        "image_to_text",
        "image-to-text",
        "Neural Image Caption (CNN + LSTM)",
        "MS-COCO 2014 captions",
        "perplexity",
        "4.2",
        "4.2",
        "batch 128, Adam 1e-3",
    ),
    BenchmarkInfo(
        "DC-AI-C5",
        "image_to_image",
        "image-to-image",
        "CycleGAN",
        "Cityscapes photo<->labels",
        "FCN per-pixel / per-class accuracy, class IoU",
        "0.52 / 0.17 / 0.11",
        "-",
        "batch 1, Adam 2e-4",
    ),
    BenchmarkInfo(
        "DC-AI-C6",
        "speech_recognition",
        "speech recognition",
        "DeepSpeech2",
        "LibriSpeech",
        "word error rate",
        "5.33%",
        "23.5%",
        "batch 20, SGD 3e-4, momentum 0.9",
    ),
    BenchmarkInfo(
        "DC-AI-C7",
        "face_embedding",
        "face embedding",
        "FaceNet (triplet loss)",
        "VGGFace2 / LFW",
        "verification accuracy",
        "98.97%",
        "89%",
        "batch 64, Adam 1e-3, margin 0.5",
    ),
    BenchmarkInfo(
        "DC-AI-C8",
        "face_recognition_3d",
        "3D face recognition",
        "ResNet-50, RGB-D input",
        "Intellifusion RGB-D faces",
        "accuracy",
        "94.64%",
        "94.59%",
        "batch 16, SGD 1e-3, momentum 0.9",
    ),
    BenchmarkInfo(
        "DC-AI-C9",
        "object_detection",
        "object detection",
        "Faster R-CNN, ResNet-50-FPN",
        "PASCAL VOC2007",
        "mAP@0.5",
        "75%",
        "74%",
        "code: batch 10, lr 1e-3",
    ),
    BenchmarkInfo(
        "DC-AI-C10",
        "recommendation",
        "recommendation",
        "Neural Collaborative Filtering",
        "MovieLens",
        "HR@10",
        "63.5%",
        "60%",
        "MLPerf NCF settings",
    ),
    BenchmarkInfo(
        "DC-AI-C11",
        "video_prediction",
        "video prediction",
        "CDNA motion-focused predictor",
        "robot pushing",
        "MSE",
        "72",
        "72",
        "batch 32, lr 1e-3",
    ),
    BenchmarkInfo(
        "DC-AI-C12",
        "image_compression",
        "image compression",
        "recurrent encoder/binarizer/decoder",
        "ImageNet 32x32 patches",
        "MS-SSIM",
        "0.99",
        "0.99",
        "batch 32, lr 5e-4, 16 iterations",
    ),
    BenchmarkInfo(
        "DC-AI-C13",
        "object_reconstruction_3d",
        "3D object reconstruction",
        "perspective transformer network (PTN)",
        "ShapeNetCore",
        "average voxel IoU",
        "45.83%",
        "45%",
        "batch 32",
    ),
    BenchmarkInfo(
        "DC-AI-C14",
        "text_summarization",
        "text summarization",
        "attentional seq2seq RNN",
        "Gigaword",
        "ROUGE-L",
        "41",
        "41",
        "batch 200, lr 1e-3, hidden 512, embedding 256",
    ),
    BenchmarkInfo(
        "DC-AI-C15",
        "spatial_transformer",
        "spatial transformer",
        "STN",
        "MNIST",
        "accuracy",
        "99%",
        "99%",
        "batch 64, SGD 0.01",
    ),
    BenchmarkInfo(
        "DC-AI-C16",
        "learning_to_rank",
        "learning to rank",
        "ranking distillation (Caser teacher/student)",
        "Gowalla check-ins",
        "Prec@3 (paper: accuracy)",
        "14.58%",
        "13.9%",
        "batch 512, Adam 1e-3, l2 1e-6, d=100, 3 negatives",
    ),
    BenchmarkInfo(
        "DC-AI-C17",
        "neural_architecture_search",
        "neural architecture search",
        "ENAS",
        "Penn Treebank",
        "perplexity",
        "100",
        "100",
        "from the ENAS paper",
    ),
)

SUITES: dict[str, tuple[str, ...]] = {
    # Paper section 3.3: the three benchmarks that keep the suite's diversity at 41% less cost.
    "subset": ("DC-AI-C1", "DC-AI-C9", "DC-AI-C16"),
    "full": tuple(info.id for info in CATALOG),
}

# Model characteristics as the paper states them (section 5.2.1). The paper's per-benchmark values are only in
# its Figure 2; the text gives the suite's ranges and which benchmark sits at each end. It counted with
# OpCounter (thop), which counts multiply-accumulates, so its "M-FLOPs" are most likely MACs, and it misses
# operators it has no rule for.
PAPER_RANGES: dict[str, str] = {
    "forward": "0.09 to 157,802 M-FLOPs (OpCounter; likely multiply-adds)",
    "parameters": "0.03 M to 68.4 M",
    "epochs": "6 to 96",
}
PAPER_MLPERF_RANGES: dict[str, str] = {
    "forward": "0.213 to 24,500 M-FLOPs",
    "parameters": "5.2 M to 49.53 M",
    "epochs": "3 to 49",
}
PAPER_CHARACTERISTICS: dict[str, str] = {
    "DC-AI-C1": "not in the text (Fig. 2); torchvision's ResNet-50: 25,557,032 parameters, 4.09 G multiply-adds "
    "at 224x224",
    "DC-AI-C3": "most epochs to converge: 96 (suite maximum)",
    "DC-AI-C4": "most parameters: 68.4 M (suite maximum)",
    "DC-AI-C9": "largest forward FLOPs, with 3D object reconstruction: up to 157,802 M-FLOPs (suite maximum, "
    "OpCounter)",
    "DC-AI-C13": "largest forward FLOPs, with object detection: up to 157,802 M-FLOPs (suite maximum, OpCounter)",
    "DC-AI-C15": "fewest parameters: 0.03 M (suite minimum)",
    "DC-AI-C16": "smallest forward FLOPs: 0.09 M-FLOPs (suite minimum, OpCounter)",
}
