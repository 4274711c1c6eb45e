from kfp import dsl

from components.evaluate_model.component import evaluate_model
from components.export_model.component import export_model
from components.load_dataset.component import load_dataset
from components.select_best.component import select_best
from components.split_dataset.component import split_dataset
from components.train_model.component import train_model

DEFAULT_CANDIDATES = [
    {"algorithm": "logistic_regression", "n_estimators": 0, "max_depth": 0, "regularization": 0.1},
    {"algorithm": "logistic_regression", "n_estimators": 0, "max_depth": 0, "regularization": 10.0},
    {"algorithm": "random_forest", "n_estimators": 50, "max_depth": 4, "regularization": 1.0},
]


@dsl.pipeline(
    name="sweep",
    description="Train one model per hyper-parameter candidate in parallel, keep the most "
    "accurate, and export it.",
)
def sweep(
    dataset: str = "wine",
    candidates: list[dict] = DEFAULT_CANDIDATES,
    test_fraction: float = 0.25,
    seed: int = 42,
) -> float:
    data = load_dataset(name=dataset)
    split = split_dataset(dataset=data.outputs["dataset"], test_fraction=test_fraction, seed=seed)
    with dsl.ParallelFor(candidates, parallelism=4, name="candidates") as candidate:
        trained = train_model(
            train=split.outputs["train"],
            algorithm=candidate.algorithm,
            n_estimators=candidate.n_estimators,
            max_depth=candidate.max_depth,
            regularization=candidate.regularization,
            seed=seed,
        )
        evaluation = evaluate_model(model=trained.outputs["model"], test=split.outputs["test"])
    best = select_best(
        models=dsl.Collected(trained.outputs["model"]),
        accuracies=dsl.Collected(evaluation.outputs["Output"]),
    )
    export_model(model=best.outputs["best"], accuracy=best.outputs["Output"], model_name=dataset)
    return best.outputs["Output"]
