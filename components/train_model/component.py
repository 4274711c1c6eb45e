from kfp.dsl import Dataset, Input, Model, Output

from components.runtime import component


@component(image="sklearn")
def train_model(
    train: Input[Dataset],
    model: Output[Model],
    algorithm: str = "random_forest",
    n_estimators: int = 100,
    max_depth: int = 0,
    regularization: float = 1.0,
    seed: int = 42,
) -> None:
    """Train a scikit-learn classifier on a labelled CSV.

    Args:
        train: CSV with a `target` column.
        algorithm: random_forest or logistic_regression.
        n_estimators: Trees in the forest (random_forest only).
        max_depth: Maximum tree depth, 0 for unlimited (random_forest only).
        regularization: Inverse regularization strength C (logistic_regression only).
        seed: Random seed.
        model: The fitted estimator, saved with joblib. Metadata: algorithm and
            hyper-parameters.
    """
    import joblib
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = pd.read_csv(train.path)
    features, labels = frame.drop(columns=["target"]), frame["target"]
    if algorithm == "random_forest":
        estimator = RandomForestClassifier(
            n_estimators=n_estimators, max_depth=max_depth or None, random_state=seed
        )
        params = {"n_estimators": n_estimators, "max_depth": max_depth}
    elif algorithm == "logistic_regression":
        estimator = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=regularization, max_iter=1000, random_state=seed),
        )
        params = {"regularization": regularization}
    else:
        raise ValueError(
            f"unknown algorithm {algorithm!r}: choose random_forest or logistic_regression"
        )
    estimator.fit(features, labels)
    joblib.dump(estimator, model.path)
    model.metadata.update({"framework": "scikit-learn", "algorithm": algorithm, **params})
