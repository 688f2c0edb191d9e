"""facevoice.eval"""
