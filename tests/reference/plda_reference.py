"""Slow, obvious references for the cross-modal PLDA back-end (facevoice.backends.plda).

Dense joint Gaussians through scipy, covariances by explicit loops over identities and pairs; only
for small inputs in tests.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal as mvn


def cross_moments(F, fid, V, vid):
    """Item means, item covariances (ddof 1) and the cross-covariance over every same-identity face-voice pair."""
    F, V = np.asarray(F, float), np.asarray(V, float)
    mf, mv = F.mean(0), V.mean(0)
    C = np.zeros((F.shape[1], V.shape[1]))
    n_pairs = 0
    for i in sorted(set(fid) & set(vid)):
        for a in F[np.asarray(fid) == i]:
            for b in V[np.asarray(vid) == i]:
                C += np.outer(a - mf, b - mv)
                n_pairs += 1
    return mf, mv, np.cov(F.T), np.cov(V.T), C / n_pairs


def joint_gaussian_llr(f, v, mf, mv, Tf, Tv, C):
    """log N([f; v]; [mf; mv], [[Tf, C], [C^T, Tv]]) - log N(f; mf, Tf) - log N(v; mv, Tv), one pair at a time."""
    J = np.block([[Tf, C], [C.T, Tv]])
    out = []
    for a, b in zip(f, v, strict=True):
        joint = mvn.logpdf(np.r_[a, b], np.r_[mf, mv], J)
        out.append(joint - mvn.logpdf(a, mf, Tf) - mvn.logpdf(b, mv, Tv))
    return np.array(out)


def mixture_llr(a, b, w, mu, S):
    """Mixture of joint Gaussians: log sum_c w_c N([a;b]; mu_c, S) minus the two marginal mixtures."""
    k = a.shape[1]
    out = []
    for x, y in zip(a, b, strict=True):
        joint = logsumexp([np.log(wc) + mvn.logpdf(np.r_[x, y], m, S) for wc, m in zip(w, mu, strict=True)])
        pa = logsumexp([np.log(wc) + mvn.logpdf(x, m[:k], S[:k, :k]) for wc, m in zip(w, mu, strict=True)])
        pb = logsumexp([np.log(wc) + mvn.logpdf(y, m[k:], S[k:, k:]) for wc, m in zip(w, mu, strict=True)])
        out.append(joint - pa - pb)
    return np.array(out)


def two_cov_predictive(Z, ids):
    """Per identity: (mean, covariance) of a new item given its items, under the two-covariance model.

    Within W pooled over identities (dof = items - identities), between B = cov(items) - W, and for an
    identity with n items of mean x̄: mean B (B + W/n)^-1 x̄, covariance W + B - B (B + W/n)^-1 B.
    Returns ({identity: (mean, cov)}, total covariance, item mean).
    """
    Z = np.asarray(Z, float)
    mu = Z.mean(0)
    Z = Z - mu
    W = np.zeros((Z.shape[1], Z.shape[1]))
    groups = {i: Z[np.asarray(ids) == i] for i in sorted(set(ids))}
    for g in groups.values():
        d = g - g.mean(0)
        W += d.T @ d
    W /= len(Z) - len(groups)
    T = np.cov(Z.T)
    B = T - W
    pred = {}
    for i, g in groups.items():
        G = B @ np.linalg.inv(B + W / len(g))
        pred[i] = (G @ g.mean(0), W + B - G @ B)
    return pred, T, mu


def memory_llr(f, v, face_pred, voice_pred, cross_llr, prior):
    """Training identities as components: log[ prior/N sum_i p(f|i) p(v|i) + (1-prior) p(f,v) ]
    - log[prior/N sum_i p(f|i) + (1-prior) p(f)] - log[... v ...], densities relative to the new-person ones.

    ``face_pred``: (predictive dict, T, item mean) from :func:`two_cov_predictive`; ``cross_llr`` (n,) is
    log p(f, v) - log p(f) - log p(v) for a new person.
    """
    ids = sorted(face_pred[0])
    n = len(ids)
    out = []
    for a, b, lx in zip(f, v, cross_llr, strict=True):
        ra = [
            mvn.logpdf(a - face_pred[2], *face_pred[0][i]) - mvn.logpdf(a - face_pred[2], None, face_pred[1])
            for i in ids
        ]
        rb = [
            mvn.logpdf(b - voice_pred[2], *voice_pred[0][i]) - mvn.logpdf(b - voice_pred[2], None, voice_pred[1])
            for i in ids
        ]
        num = np.logaddexp(np.log(prior / n) + logsumexp(np.add(ra, rb)), np.log1p(-prior) + lx)
        den_a = np.logaddexp(np.log(prior / n) + logsumexp(ra), np.log1p(-prior))
        den_b = np.logaddexp(np.log(prior / n) + logsumexp(rb), np.log1p(-prior))
        out.append(num - den_a - den_b)
    return np.array(out)
