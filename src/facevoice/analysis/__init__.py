"""facevoice.analysis"""
