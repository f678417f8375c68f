"""Golden values for reprolab-core's metric and statistics tests.

Run with numpy, scipy and scikit-learn installed:
    python crates/core/tests/golden/make_golden.py
It prints the reference values that crates/core/tests/metrics_golden.rs and
stats_golden.rs hard-code, so anyone can regenerate and compare them.
Versions used for the stored values: scipy 1.17.1, scikit-learn 1.9.1.
"""
import numpy as np
from scipy import stats
from sklearn import metrics as M

np.set_printoptions(precision=17)

# --- classification (3 classes, with a class never predicted) ---
y_true = [0, 1, 2, 2, 1, 0, 0, 2, 1, 1, 2, 0]
y_pred = [0, 2, 2, 2, 1, 0, 1, 1, 1, 0, 0, 0]
print("accuracy", repr(M.accuracy_score(y_true, y_pred)))
print("balanced_accuracy", repr(M.balanced_accuracy_score(y_true, y_pred)))
print("macro_f1", repr(M.f1_score(y_true, y_pred, average="macro")))
print("uar", repr(M.recall_score(y_true, y_pred, average="macro")))
print("confusion", M.confusion_matrix(y_true, y_pred).tolist())
# a predicted label absent from y_true: F1 of that class is 0 (zero_division=0)
y_true2 = [0, 0, 1, 1]
y_pred2 = [0, 2, 1, 1]
print("macro_f1_extra", repr(M.f1_score(y_true2, y_pred2, average="macro", zero_division=0)))
print("uar_extra", repr(M.recall_score(y_true2, y_pred2, average="macro", zero_division=0)))
print("balanced_extra", repr(M.balanced_accuracy_score(y_true2, y_pred2)))

# --- ROC with tied scores ---
labels = [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1]
scores = [0.9, 0.8, 0.8, 0.7, 0.6, 0.6, 0.6, 0.3, 0.2, 0.2, 0.1, 0.05]
fpr, tpr, thr = M.roc_curve(labels, scores, drop_intermediate=False)
print("roc_fpr", fpr.tolist())
print("roc_tpr", tpr.tolist())
print("roc_thr", thr[1:].tolist())
print("roc_auc", repr(M.roc_auc_score(labels, scores)))
# TPR at FPR: the TPR at the largest FPR not above the target (ML Privacy
# Meter's `tpr[np.where(fpr <= target)[0][-1]]`; LiRA's plot.py writes `<`)
def tpr_at(target):
    return float(tpr[np.where(fpr <= target)[0][-1]])
for t in [0.0, 0.1, 1 / 6, 0.25, 0.5, 0.9, 1.0]:
    print("tpr_at", t, repr(tpr_at(t)))
print("advantage", repr(float(np.max(np.abs(tpr - fpr)))))

# --- correlations with ties ---
x = [1.0, 2.0, 2.0, 3.5, 4.0, 4.0, 4.0, 7.0, 8.5, 10.0]
y = [2.1, 1.9, 3.0, 3.0, 5.5, 4.0, 6.1, 6.1, 9.0, 8.0]
print("pearson", repr(stats.pearsonr(x, y).statistic))
print("spearman", repr(stats.spearmanr(x, y).statistic))
print("kendall_b", repr(stats.kendalltau(x, y, variant="b").statistic))

# --- statistics ---
a = [0.81, 0.79, 0.84, 0.80, 0.83, 0.78, 0.85, 0.82]
b = [0.78, 0.80, 0.80, 0.77, 0.81, 0.78, 0.80, 0.79]
print("mean_a", repr(float(np.mean(a))), "std_a", repr(float(np.std(a, ddof=1))))
t = stats.ttest_rel(a, b)
print("ttest_rel", repr(float(t.statistic)), repr(float(t.pvalue)))
# Wilcoxon: exact (no ties, no zeros)
c = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
d = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]
w = stats.wilcoxon(c, d)
print("wilcoxon_exact", repr(float(w.statistic)), repr(float(w.pvalue)))
# Wilcoxon: ties and a zero difference -> normal approximation (zero_method wilcox)
e = [3, 5, 6, 2, 8, 7, 4, 9, 5, 6, 3, 7]
f = [2, 5, 4, 1, 5, 6, 4, 6, 3, 6, 1, 5]
w2 = stats.wilcoxon(e, f)
print("wilcoxon_ties", repr(float(w2.statistic)), repr(float(w2.pvalue)))
# Wilcoxon: ties, n > 13 -> normal approximation without continuity correction
g = [0.5, -1.2, 2.0, 0.5, 1.5, -0.5, 2.0, 3.1, 0.8, -0.3, 1.1, 0.5, 2.2, -1.0, 0.7, 1.9, 0.0, 1.2, 0.5, -0.8]
w3 = stats.wilcoxon(g)
print("wilcoxon_approx", repr(float(w3.statistic)), repr(float(w3.pvalue)))
