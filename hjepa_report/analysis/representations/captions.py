"""Captions of the predictions and representations figures: how to read them, what healthy looks like, and
the method and reference of every measure shown."""

from __future__ import annotations

MAPS_CAPTION = (
    "Each row: a sample image, its mask (dark: hidden from the context encoder; orange: patches the predictor "
    "predicts), then per hierarchy level the cosine similarity (blue = 1, red = -1) and the L2 distance between "
    "predicted and target token, painted on the patches the token covers (level l > 0 averages 2^l consecutive "
    "hidden patches, as H-JEPA pools them; grey: not predicted). The last row predicts the mean target token "
    "everywhere (first image, same mask): the predictor should look clearly bluer and darker than it. Masks: the "
    "run's own sampler ({strategy}), seed {seed}. Targets: {kind}."
)

HEALTH_CAPTION = (
    "Patch tokens of the target encoder on the sample images (n = {n} tokens, d = {d}), with two anchors of the "
    "same shape, seed {seed}: an isotropic Gaussian (healthy) and a rank-1 matrix (complete collapse). Top left: "
    "std of each dimension of the L2-normalised tokens, sorted; isotropic features sit near 1/sqrt(d), a "
    "collapsed dimension falls towards 0 (a fixed threshold such as 0.01 would ignore d). Top right: token norms. "
    "Bottom left: singular values divided by their sum (the p_k of RankMe, Garrido et al. 2023: RankMe = "
    "exp(-sum p_k log p_k), p_k = s_k / ||s||_1 + 1e-7, uncentred); a healthy spectrum decays slowly, a "
    "collapsed one drops after a few k. Bottom right: cosine similarity of all distinct pairs; a mass near 1 "
    "means the tokens all point the same way. The tables list RankMe, alpha-ReQ (Agrawal et al. 2022: slope of "
    "a least-squares power-law fit to the covariance eigenvalues in log-log), the VICReg variance and covariance "
    "terms (Bardes et al. 2022, gamma 1, eps 1e-4) and the mean pairwise cosine for tokens, images and CLS."
)

LOGGED_LIMITS = (
    "The collapse metrics the trainer logged, computed as H-JEPA's trainer does (src/trainers/trainer.py, "
    "_compute_collapse_metrics, on the training batch; this project's sample trainer follows it); vertical "
    "lines mark the evaluated checkpoints. Known "
    "limits: *_std is the std of all values of the batch's flattened (1+N) x D features, one number, not per "
    "dimension and not of normalised features; *_norm is the mean norm of each image's flattened features; "
    "*_eff_rank is exp of the entropy of the singular values of the first <= 100 images of the batch (one "
    "flattened row per image, uncentred, log(p + 1e-8)), so it can never exceed {cap} here, whatever the "
    "embedding dimension. They are not RankMe over tokens and cannot be compared with the numbers above; a fall "
    "within the run is still a warning sign. (The predecessor visualisation module's 'effective rank' is "
    "different again: eigenvalues of the covariance of L2-normalised features with log(p + 1e-10).)"
)


ACCURACY_CAPTION = (
    "kNN: leave-one-out, cosine similarity, majority vote of the k nearest other images, ties to the class with "
    "the larger summed similarity; k is 5, lowered to (smallest class size - 1) so a class can win a vote (an "
    "image that is alone in its class can never be classified right). The 95 % interval is Wilson's score "
    "interval (Wilson 1927) for n images, approximate because leave-one-out predictions are not independent: "
    "at 30 % accuracy it spans about +-11 points with 64 images, +-6 with 256. Linear "
    "probe: standardised features, scikit-learn LogisticRegression (C = 1), stratified K-fold cross-validation "
    "(folds <= smallest class size, seeded). Chance: the share of the most frequent class. These are probes of "
    "a few hundred images at most: read them against chance and across checkpoints, not as benchmark numbers."
)

LIDAR_CAPTION = (
    "LiDAR (Thilak et al. 2024): each sample image's augmented views (random resized crops, scale 0.4-1, and "
    "flips of the preprocessed image, seeded) form one class; LiDAR = exp of the entropy of the normalised "
    "eigenvalues of Sigma_w^-1/2 Sigma_b Sigma_w^-1/2 (between-class over within-class scatter, delta = 1e-4, "
    "eps = 1e-8) of the mean-pooled target tokens. At most (images - 1); higher means more directions separate "
    "images beyond augmentation noise. It counts directions, not distances: even random features score near "
    "(images - 1) when the images are few, so read it with RankMe and the kNN accuracy."
)


def probe_phrase(sample: int, total: int, available: int, minimal: bool = False) -> str:
    """Say which images the class probes use: the sample images, the further ones, and what was left out."""
    used = f"the {sample} sample images" + (
        f" and {total - sample} further images of the run" if total > sample else ""
    )
    if available > total:
        why = "--minimal uses the sample images only" if minimal else "--probe-images sets how many"
        used += f" ({total} of the run's {available} images: {why})"
    return used


def projection_caption(projs, has_labels: bool, cap: int, used: str) -> str:
    """Caption of the PCA / t-SNE / UMAP figure: methods, parameters, cap, seconds."""
    parts = []
    for p in projs:
        if p.coords is None:
            parts.append(p.note)
        else:
            parts.append(f"{p.method.upper()}: {p.detail}, {len(p.indices)} points, {p.seconds:.2f} s")
    colour = "coloured by class (folder name)" if has_labels else "one colour: the images have no class labels"
    return (
        f"Mean-pooled patch tokens of the target encoder, one point per image ({used}), {colour}; at most "
        f"{cap} points (seeded subsample above that). PCA axes give the share of variance they explain; t-SNE "
        "(van der Maaten & Hinton 2008) and UMAP (McInnes et al. 2018) keep neighbourhoods, not distances, so "
        "only clusters are meaningful. Healthy: images of one class close together, classes apart. "
        + "; ".join(parts)
        + "."
    )


def neighbours_caption(has_labels: bool, used: str) -> str:
    """Caption of the nearest-neighbour figure."""
    frame = (
        " A green frame marks a neighbour of the query's class, an orange frame another class." if has_labels else ""
    )
    return (
        f"Each row: a query image (left) and its 5 most similar other images among {used}, by cosine "
        "similarity of the mean-pooled target-encoder tokens, most similar first, with the similarity above "
        "each."
        + frame
        + " Healthy: neighbours that share the query's content, with similarities clearly below 1 (all near 1 "
        "means every image gets the same embedding)."
    )


def checkpoint_caption(sweep, best, rule: str) -> str:
    """Caption of the across-checkpoint curves: which checkpoints, how the best was chosen."""
    chosen = len(sweep.rows)
    picked = (
        f"all {chosen} checkpoints"
        if chosen == sweep.total
        else f"{chosen} of {sweep.total} checkpoints, spread evenly over epochs (cap {sweep.cap})"
    )
    return (
        f"The measures above computed for {picked} on the same images and masks: RankMe of image "
        "embeddings and of patch tokens with their isotropic anchors (dashed), alpha-ReQ of the patch tokens, "
        "leave-one-out kNN accuracy of the image embeddings (cosine, majority vote, ties to the nearer class; "
        "band: 95 % Wilson interval) with chance, and the level-0 prediction cosine with the mean-token "
        "baseline. Healthy: RankMe and kNN "
        "rising or stable, alpha near 1, prediction cosine above the baseline. "
        + (
            f"Best checkpoint (shaded): {best}, chosen as {rule}."
            if best
            else "No best checkpoint: no measure was available for every checkpoint."
        )
    )


DENSE_CAPTION = (
    "Left: isotropy of the patch tokens by LeJEPA's SIGReg statistic (Balestriero & LeCun 2025: Epps-Pulley "
    "test of the characteristic function along 256 seeded random directions, 17 knots on [0, 3]), the tokens "
    "centred and divided by one global scale; dashed: the same statistic for an isotropic Gaussian sample of "
    "the same shape. Near the dashed line: as isotropic as Gaussian noise; far above it: a few directions "
    "dominate (collapse pushes it up). Right: how far each checkpoint's dense structure is from the last "
    "evaluated one, the patch-token Gram drift ||G_c - G_last||_F / ||G_last||_F of the cosine-similarity "
    "matrices of each image's patch tokens (DINOv3's Gram anchoring quantity, Simeoni et al. 2025), mean over "
    "up to 16 sample images; 0 at the last checkpoint by construction. Dense features that still change late "
    "while global measures are flat show up as a late drop."
)
AGREEMENT_CAPTION = (
    "Spearman rank correlation (Spearman 1904) across the evaluated checkpoints between each label-free "
    "measure and the leave-one-out kNN accuracy, each measure oriented so that better is positive (lower "
    "|alpha-ReQ - 1|, isotropy statistic and validation loss count as better). A measure agrees when rho >= "
    "0.5 over at least 4 checkpoints; only agreeing measures join kNN accuracy in the best-checkpoint rule. "
    "RankMe is known to mislead on some joint-embedding predictive models: this table shows whether it does "
    "on this run. LiDAR is measured on the chosen checkpoint only (its augmented views are the costliest "
    "pass), so it has no rank correlation; the validation loss is the run's logged val/loss at or before each "
    "checkpoint's step."
)
