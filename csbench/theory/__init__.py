"""Theory: every bound and curve csbench compares measurements with.

Conventions: delta = m/n (undersampling), rho = k/m (sparsity per measurement),
natural logarithms unless the name says ``log2``. Each function documents its
formula and source.
"""
from .counting import counting_bound, log2_binom
from .matched_filter import chernoff_m
from .counting import binom_lower_bits, binom_upper_bits, bits_per_dimension, entropy_bits
from .matched_filter import (mf_error_probabilities, mf_expected_wrong, mf_minimal_m,
                             mf_success_probability, mf_success_probability_bernoulli, sum_zero_orthant)
from .coherence import (cos_cdf, cos_sf, expected_max_coherence, expected_mean_abs_cos,
                        lemma1_delta, welch_bound)
from .antipodal import (antipodal_halving_m, antipodal_halving_terms, antipodal_pair_errors,
                        one_direction_pair_errors, use_antipodal, use_antipodal_vs_halving)
from .two_feature import antipodal_switch_point, two_feature_loss, two_feature_optimum
from .phase_transition import (bayes_binary_threshold, binary_mmse, binary_state_evolution,
                               m_small_delta, m_weak, minimax_threshold, rho_weak)

__all__ = ["log2_binom", "counting_bound", "chernoff_m"]
__all__ += ["entropy_bits", "binom_lower_bits", "binom_upper_bits", "bits_per_dimension",
            "sum_zero_orthant", "mf_success_probability", "mf_error_probabilities",
            "mf_expected_wrong", "mf_minimal_m", "mf_success_probability_bernoulli",
            "lemma1_delta", "welch_bound", "cos_cdf",
            "cos_sf", "expected_mean_abs_cos", "expected_max_coherence", "antipodal_pair_errors",
            "one_direction_pair_errors", "use_antipodal", "antipodal_halving_terms",
            "antipodal_halving_m", "use_antipodal_vs_halving", "two_feature_loss",
            "two_feature_optimum", "antipodal_switch_point"]
__all__ += ["minimax_threshold", "rho_weak", "m_weak", "m_small_delta", "binary_mmse",
            "binary_state_evolution", "bayes_binary_threshold"]
from .vamp import amp_state_evolution, marchenko_pastur_eigenvalues, scalar_channel, vamp_state_evolution

__all__ += ["amp_state_evolution", "marchenko_pastur_eigenvalues", "scalar_channel", "vamp_state_evolution"]
