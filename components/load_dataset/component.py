from kfp.dsl import Dataset, Output

from components.runtime import component


@component(image="sklearn")
def load_dataset(dataset: Output[Dataset], name: str = "breast_cancer") -> None:
    """Load a labelled tabular dataset that ships with scikit-learn, as CSV.

    No download: the data is inside the scikit-learn package.

    Args:
        name: One of breast_cancer, iris, wine, digits.
        dataset: CSV with one column per feature and the label in `target`.
            Metadata: rows, features, classes.
    """
    from sklearn import datasets

    loaders = {
        "breast_cancer": datasets.load_breast_cancer,
        "digits": datasets.load_digits,
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
    }
    if name not in loaders:
        raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(sorted(loaders))}")
    frame = loaders[name](as_frame=True).frame
    frame.to_csv(dataset.path, index=False)
    dataset.metadata.update(
        {
            "rows": len(frame),
            "features": frame.shape[1] - 1,
            "classes": int(frame["target"].nunique()),
        }
    )
