//! Baselines and burn rates over statistics windows.
