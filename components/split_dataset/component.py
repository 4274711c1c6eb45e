from kfp.dsl import Dataset, Input, Output

from components.runtime import component


@component(image="sklearn")
def split_dataset(
    dataset: Input[Dataset],
    train: Output[Dataset],
    test: Output[Dataset],
    test_fraction: float = 0.25,
    seed: int = 42,
) -> None:
    """Split a labelled CSV into train and test sets, stratified on `target`.

    Args:
        dataset: CSV with a `target` column.
        test_fraction: Share of rows for the test set, between 0 and 1 (exclusive).
        seed: Random seed, so the same inputs give the same split.
        train: Training rows (CSV). Metadata: rows.
        test: Test rows (CSV). Metadata: rows.
    """
    import pandas as pd
    from sklearn.model_selection import train_test_split

    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    frame = pd.read_csv(dataset.path)
    train_rows, test_rows = train_test_split(
        frame, test_size=test_fraction, random_state=seed, stratify=frame["target"]
    )
    for artifact, rows in ((train, train_rows), (test, test_rows)):
        rows.to_csv(artifact.path, index=False)
        artifact.metadata["rows"] = len(rows)
