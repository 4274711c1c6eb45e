from kfp import dsl

from components.evaluate_model.component import evaluate_model
from components.export_model.component import export_model
from components.load_dataset.component import load_dataset
from components.split_dataset.component import split_dataset
from components.train_model.component import train_model


@dsl.pipeline(
    name="training",
    description="Train a classifier on a scikit-learn dataset, evaluate it, and export it "
    "only when its accuracy clears a threshold.",
)
def training(
    dataset: str = "breast_cancer",
    algorithm: str = "random_forest",
    n_estimators: int = 100,
    max_depth: int = 0,
    regularization: float = 1.0,
    test_fraction: float = 0.25,
    accuracy_threshold: float = 0.9,
    seed: int = 42,
) -> float:
    data = load_dataset(name=dataset)
    split = split_dataset(dataset=data.outputs["dataset"], test_fraction=test_fraction, seed=seed)
    trained = train_model(
        train=split.outputs["train"],
        algorithm=algorithm,
        n_estimators=n_estimators,
        max_depth=max_depth,
        regularization=regularization,
        seed=seed,
    )
    evaluation = evaluate_model(model=trained.outputs["model"], test=split.outputs["test"])
    with dsl.If(
        evaluation.outputs["Output"] >= accuracy_threshold, name="accuracy-clears-threshold"
    ):
        export_model(
            model=trained.outputs["model"],
            accuracy=evaluation.outputs["Output"],
            model_name=dataset,
        )
    return evaluation.outputs["Output"]
