"""facevoice.report"""
